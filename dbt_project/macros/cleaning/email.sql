{#
  The email rule (docs/cleaning-rules.md), applied to a trimmed, repaired, lower-cased value: exactly one `@`, no spaces,
  no `..`, and a domain with a dot and a top-level domain of at least two letters.
#}
{% macro is_valid_email(column) -%}
    {{ adapter.dispatch('is_valid_email', 'retail_elt')(column) }}
{%- endmacro %}

{% macro default__is_valid_email(column) -%}
    ({{ matches(column, '^[^@[:space:]]+@[^@[:space:]]*[.][a-z]{2,}$') }} and {{ column }} not like '%..%')
{%- endmacro %}

{#
  Spark: Java reads `[:space:]` in a bracket expression as the letters `:`, `s`, `p`, ... (so `sp@a.com` would
  fail); its `\s` is the same six characters as POSIX `[:space:]` (space, tab, LF, VT, FF, CR).
#}
{% macro spark__is_valid_email(column) -%}
    ({{ matches(column, '^[^@\\s]+@[^@\\s]*[.][a-z]{2,}$') }} and {{ column }} not like '%..%')
{%- endmacro %}
