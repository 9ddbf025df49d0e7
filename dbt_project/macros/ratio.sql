{# numerator / denominator rounded to `scale` decimals; null when the denominator is 0 or null. #}
{% macro ratio(numerator, denominator, scale=2) -%}
    cast(round(cast({{ numerator }} as numeric(38, 10)) / nullif({{ denominator }}, 0), {{ scale }}) as numeric(18, {{ scale }}))
{%- endmacro %}
