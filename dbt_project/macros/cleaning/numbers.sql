{#
  Numbers from raw text, without cast errors on either target (docs/cleaning-rules.md, section 2).
  A value is only cast after a regex guard has shown it fits the target type, so no cell can fail the
  build; the same guard runs on both targets, so DuckDB's lenient try_cast ('1e3', '46.5') and
  Postgres' strict casts agree. Each kind has a shape test and a parse macro (the value, or null);
  `value_status` gives the status from them (parse once in a CTE, then pass the parsed column:
  Postgres evaluates a repeated expression again for every use):
    missing       blank (or a null spelling)
    invalid       not of the kind's shape (`2.5` for an integer, `abc`, `1e3`), or below a bound where
                  the caller says so (a quantity of 0)
    out_of_range  of the right shape but outside the bounds (dbt vars) or too long for the type
    valid         the value
  Apply to trimmed text (the staging models' first step).
#}

{# Integer shape: optional minus, digits, then optionally a point and zeros only (`2`, `2.0`, `2.00`, `2.`). #}
{% macro integer_shape(column) -%}
    {{ adapter.dispatch('integer_shape', 'retail_elt')(column) }}
{%- endmacro %}

{% macro default__integer_shape(column) -%}
    {{ matches(column, '^-?[0-9]+([.]0*)?$') }}
{%- endmacro %}

{#
  Postgres: plain digits (almost every cell) are recognised by `ltrim` before the regex, which costs
  about as much again per row; anything else still goes through the same regex, so the result is the same.
#}
{% macro postgres__integer_shape(column) -%}
    (({{ column }} <> '' and ltrim({{ column }}, '0123456789') = '') or {{ default__integer_shape(column) }})
{%- endmacro %}


{#
  `column` without the leading characters that are in `characters` (a SQL text expression). Spark's
  two-argument `ltrim` takes the characters first (`ltrim('00123', '0123456789')` is `'456789'`), so it has
  the SQL-standard form instead.
#}
{% macro strip_leading(column, characters) -%}
    {{ adapter.dispatch('strip_leading', 'retail_elt')(column, characters) }}
{%- endmacro %}

{% macro default__strip_leading(column, characters) -%}
    ltrim({{ column }}, {{ characters }})
{%- endmacro %}

{% macro spark__strip_leading(column, characters) -%}
    trim(leading {{ characters }} from {{ column }})
{%- endmacro %}


{#
  An integer key or count as bigint: `2`, `2.0` and `-3` read as integers; null when blank, not of the
  integer shape, or over 18 digits (an identifier or count that long is not one; always fits a bigint).
  (A length check instead of `{1,18}`: bounded repetition makes Postgres' regex engine 2-3x slower.)
#}
{% macro parse_integer(column) -%}
    {{ adapter.dispatch('parse_integer', 'retail_elt')(column) }}
{%- endmacro %}

{#
  Postgres: plain digits, 1 to 18 of them, are cast directly (the general branch would give the same
  value: no point, no sign); the regex, `split_part` and `ltrim` run only for the rest.
#}
{% macro postgres__parse_integer(column) -%}
    case
        when ltrim({{ column }}, '0123456789') = '' and length({{ column }}) between 1 and 18
        then cast({{ column }} as bigint)
        else {{ default__parse_integer(column) }}
    end
{%- endmacro %}

{% macro default__parse_integer(column) -%}
    case
        when {{ integer_shape(column) }} and length({{ strip_leading("split_part(" ~ column ~ ", '.', 1)", "'-'") }}) <= 18
        then cast(split_part({{ column }}, '.', 1) as bigint)
    end
{%- endmacro %}


{#
  Money text like `$1,234.56 ` (dollar sign, thousands commas, inner blanks, up to two decimals) as
  numeric(12,2); null when blank, negative, not of that shape, or over 10 integer digits.
#}
{% macro money_shape(column) -%}
    {{ matches(column, '^[$]? *[0-9]{1,3}(,?[0-9]{3})*([.][0-9]{1,2})?$') }}
{%- endmacro %}

{% macro money_digits(column) -%}
    replace(replace(replace({{ column }}, '$', ''), ',', ''), ' ', '')
{%- endmacro %}

{% macro parse_money(column) -%}
    case
        when {{ money_shape(column) }} and length(split_part({{ money_digits(column) }}, '.', 1)) <= 10
        then cast({{ money_digits(column) }} as numeric(12, 2))
    end
{%- endmacro %}

{% macro money_status(column, high=none) -%}
    {{ value_status(column, money_shape(column), parse_money(column), none, high) }}
{%- endmacro %}


{#
  A decimal (`0.92`, `1.30000000000000004`, `-4.5`) rounded half away from zero to `scale` decimals, as
  numeric(18, scale); null when blank, not of that shape (`1e3`, `.5`), or over 12 integer digits.
  Decimals past the 18th are cut before rounding (they cannot change a value rounded to 6 decimals
  half-up).
#}
{% macro decimal_shape(column) -%}
    {{ matches(column, '^-?[0-9]+([.][0-9]+)?$') }}
{%- endmacro %}

{% macro parse_decimal(column, scale=6) -%}
    case
        when {{ decimal_shape(column) }} and length({{ strip_leading("split_part(" ~ column ~ ", '.', 1)", "'-'") }}) <= 12
        then cast(
            round(cast(left({{ column }}, length(split_part({{ column }}, '.', 1)) + 19) as numeric(32, 18)), {{ scale }})
            as numeric(18, {{ scale }})
        )
    end
{%- endmacro %}

{#
  The status of one value: `text` the trimmed cell, `shape` its shape test, `value` its parsed value
  (null when the shape is right but the number is too long for its type). Bounds are inclusive.
#}
{% macro value_status(text, shape, value, low=none, high=none, below='out_of_range') -%}
    case
        when {{ text }} is null then 'missing'
        when not ({{ shape }}) then 'invalid'
        when {{ value }} is null then case when {{ text }} like '-%' then '{{ below }}' else 'out_of_range' end
        {%- if low is not none %}
        when {{ value }} < {{ low }} then '{{ below }}'
        {%- endif %}
        {%- if high is not none %}
        when {{ value }} > {{ high }} then 'out_of_range'
        {%- endif %}
        else 'valid'
    end
{%- endmacro %}


{# How many of the given expressions are not null (for choosing the most complete record). #}
{% macro count_non_null(columns) -%}
    ({% for column in columns %}case when {{ column }} is null then 0 else 1 end{{ ' + ' if not loop.last }}{% endfor %})
{%- endmacro %}
