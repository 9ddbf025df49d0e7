{# Every key (combination of `columns`) of `compare_model` is present in the tested model. #}
{% test includes_rows_of(model, compare_model, columns) %}

select {% for column in columns %}expected.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
from {{ compare_model }} as expected
where not exists (
    select 1
    from {{ model }} as actual
    where {% for column in columns %}actual.{{ column }} = expected.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
)

{% endtest %}
