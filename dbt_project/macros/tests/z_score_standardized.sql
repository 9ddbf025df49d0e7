{#
  A z-score column must be standardised: mean 0 and (sample) standard deviation 1, within `tolerance`.
  A column of nulls passes: z-scores of a constant (or single) value are undefined, hence null.
#}
{% test z_score_standardized(model, column_name, tolerance=0.000001) %}

with moments as (

    select
        count({{ column_name }}) as scored_rows,
        avg(cast({{ column_name }} as {{ type_double() }})) as mean,
        stddev_samp(cast({{ column_name }} as {{ type_double() }})) as standard_deviation
    from {{ model }}

)

select *
from moments
where scored_rows > 0
    and (abs(mean) > {{ tolerance }} or abs(coalesce(standard_deviation, 0) - 1) > {{ tolerance }})

{% endtest %}
