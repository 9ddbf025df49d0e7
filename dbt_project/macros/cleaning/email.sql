{#
  The email rule (docs/cleaning-rules.md), applied to a trimmed, repaired, lower-cased value: exactly one `@`, no spaces,
  no `..`, and a domain with a dot and a top-level domain of at least two letters.
#}
{% macro is_valid_email(column) -%}
    ({{ matches(column, '^[^@[:space:]]+@[^@[:space:]]*[.][a-z]{2,}$') }} and {{ column }} not like '%..%')
{%- endmacro %}
