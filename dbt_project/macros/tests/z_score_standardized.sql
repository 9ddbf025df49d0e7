{#
  A z-score column must be standardised: mean 0 and (sample) standard deviation 1, within `tolerance`.
#}
{% test z_score_standardized(model, column_name, tolerance=0.000001) %}

with moments as (

    select
        avg(cast({{ column_name }} as double precision)) as mean,
        stddev_samp(cast({{ column_name }} as double precision)) as standard_deviation
    from {{ model }}

)

select *
from moments
where abs(coalesce(mean, 1)) > {{ tolerance }}
    or abs(coalesce(standard_deviation, 0) - 1) > {{ tolerance }}

{% endtest %}
