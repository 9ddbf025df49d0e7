{#
  Schemas are exactly the names in SPEC section 7 (staging, intermediate, marts, reports, audit) on
  every target: a model's custom schema is used as-is instead of dbt's default `<target>_<custom>`.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
