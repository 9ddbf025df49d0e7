{#
  `offset 0` on Postgres, at the end of a CTE body whose columns are used several times: a subquery with an
  offset is never flattened into the query that reads it, so each of its expressions (a parsed date is a
  chain of casts) is computed once per row, and, unlike a `materialized` CTE, its rows are
  streamed instead of being copied into a tuple store first. Only for a CTE referenced once (Postgres
  materialises one referenced twice anyway). DuckDB shares common subexpressions itself and needs no fence.
#}
{% macro row_fence() -%}
    {{ adapter.dispatch('row_fence', 'retail_elt')() }}
{%- endmacro %}

{% macro default__row_fence() -%}{%- endmacro %}

{% macro postgres__row_fence() -%}offset 0{%- endmacro %}
