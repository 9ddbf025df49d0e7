{#
  Report reconciliation: the tested column's total equals another model's column total, exactly
  (money to the cent). `compare_where` narrows the rows of the other model.
#}
{% test sum_equals(model, column_name, compare_model, compare_column, compare_where='1 = 1') %}

with totals as (

    select
        (select coalesce(sum({{ column_name }}), 0) from {{ model }}) as report_total,
        (select coalesce(sum({{ compare_column }}), 0) from {{ compare_model }} where {{ compare_where }}) as mart_total

)

select *
from totals
where report_total <> mart_total

{% endtest %}


{# The tested model has exactly as many rows as another model (optionally only its rows matching `compare_where`). #}
{% test row_count_equals(model, compare_model, compare_where='1 = 1') %}

with counts as (

    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ compare_model }} where {{ compare_where }}) as compare_rows

)

select *
from counts
where model_rows <> compare_rows

{% endtest %}
