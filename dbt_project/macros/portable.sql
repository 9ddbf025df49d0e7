{#
  SQL that is spelled differently per target and has no cross-database macro in dbt itself.
#}

{#
  The 8-byte floating point type. (dbt.type_float() gives `float`, a 4-byte type on DuckDB and Spark.)
  Spark has no `double precision`; Postgres has no plain `double`.
#}
{% macro type_double() -%}
    {{ adapter.dispatch('type_double', 'retail_elt')() }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}

{% macro spark__type_double() -%}double{%- endmacro %}


{# The `expression` texts of a group joined by `separator` (a SQL literal), in the order of `order_by`. #}
{% macro ordered_string_agg(expression, separator, order_by) -%}
    {{ adapter.dispatch('ordered_string_agg', 'retail_elt')(expression, separator, order_by) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expression, separator, order_by) -%}
    string_agg({{ expression }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expression, separator, order_by) -%}
    string_agg({{ expression }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}
