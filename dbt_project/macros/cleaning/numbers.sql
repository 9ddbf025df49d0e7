{#
  Safe casts: a value that does not have the expected shape becomes null instead of failing the
  build; models turn those nulls into rejected records. The same regex guard runs on both targets,
  so DuckDB's lenient try_cast ('1e3', '46.5') and Postgres' strict casts agree.
#}

{#
  An integer key or count: optional minus sign and up to 18 digits (always fits a bigint), else null.
  (A length check instead of `{1,18}`: bounded repetition makes Postgres' regex engine 2-3x slower.)
#}
{% macro safe_integer(column) -%}
    case when {{ matches(column, '^-?[0-9]+$') }} and length({{ column }}) <= 18 then cast({{ column }} as bigint) end
{%- endmacro %}


{# A decimal number (`12`, `0.9231`, `-4.5`), else null. #}
{% macro safe_numeric(column, precision=18, scale=6) -%}
    case
        when {{ matches(column, '^-?[0-9]{1,' ~ (precision - scale) ~ '}([.][0-9]{1,' ~ scale ~ '})?$') }}
        then cast({{ column }} as numeric({{ precision }}, {{ scale }}))
    end
{%- endmacro %}


{# Money text like `$1,234.56 ` (dollar sign, thousands commas, blanks) as numeric(12,2), else null. #}
{% macro money_to_numeric(column) -%}
    {%- set digits = "replace(replace(replace(" ~ column ~ ", '$', ''), ',', ''), ' ', '')" -%}
    case
        when {{ matches(column, '^ *[$]? *[0-9]{1,3}(,?[0-9]{3})*([.][0-9]{1,2})? *$') }}
            and {{ matches(digits, '^[0-9]{1,10}([.][0-9]{1,2})?$') }}
        then cast({{ digits }} as numeric(12, 2))
    end
{%- endmacro %}


{# A whole number of years from text like `46.0`, `50` or `46.00`; null when blank, fractional or out of 0..130. #}
{% macro parse_age(column) -%}
    case
        when {{ matches(column, '^[0-9]{1,3}([.]0+)?$') }}
            and cast(cast({{ column }} as numeric(6, 2)) as integer) <= 130
        then cast(cast({{ column }} as numeric(6, 2)) as integer)
    end
{%- endmacro %}


{# How many of the given expressions are not null (for choosing the most complete record). #}
{% macro count_non_null(columns) -%}
    ({% for column in columns %}case when {{ column }} is null then 0 else 1 end{{ ' + ' if not loop.last }}{% endfor %})
{%- endmacro %}
