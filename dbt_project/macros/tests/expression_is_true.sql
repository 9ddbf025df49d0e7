{# Rows for which the boolean SQL `expression` is not true (narrow the rows with the test's `where` config). #}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
