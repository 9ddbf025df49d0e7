{#
  Date parsing without cast errors on either target: the text must have the expected shape, the
  month must be 1..12 and the day must exist in that month (leap years included) before make_date
  is called. Anything else is null.
#}

{# A date from integer-text year, month and day, or null if no such day exists. #}
{% macro make_valid_date(year, month, day) -%}
    {%- set y = 'cast(' ~ year ~ ' as integer)' -%}
    {%- set m = 'cast(' ~ month ~ ' as integer)' -%}
    {%- set d = 'cast(' ~ day ~ ' as integer)' -%}
    case
        when {{ y }} between 1 and 9999
            and {{ m }} between 1 and 12
            and {{ d }} between 1 and (
                case
                    when {{ m }} in (4, 6, 9, 11) then 30
                    when {{ m }} = 2 then
                        case when ({{ y }} % 4 = 0 and {{ y }} % 100 <> 0) or {{ y }} % 400 = 0 then 29 else 28 end
                    else 31
                end
            )
        then make_date({{ y }}, {{ m }}, {{ d }})
    end
{%- endmacro %}


{#
  A time after a date: a space or `T`, `H:MM` or `HH:MM` (hours 0-23), optional `:SS` and a fraction,
  optional AM/PM, optional `Z` or `+HH:MM` offset. It is ignored: the date is taken as written.
#}
{% macro time_suffix_pattern() -%}
    ([ T]([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?( ?[AaPp][Mm])?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?
{%- endmacro %}


{#
  The date part of a date cell: `11/12/2025 0:00` -> `11/12/2025`, `2025-11-12T00:00:00` -> `2025-11-12`;
  a value without a valid time suffix is returned unchanged (and then fails the date shape if it has one
  that is not valid). Texts of 10 characters or fewer cannot hold a time and skip the regex.
#}
{% macro date_text(column) -%}
    case
        when length({{ column }}) <= 10 then {{ column }}
        when {{ matches(column, '^[0-9]{1,4}[/-][0-9]{1,2}[/-][0-9]{1,4}' ~ time_suffix_pattern() ~ '$') }}
            then split_part(replace({{ column }}, 'T', ' '), ' ', 1)
        else {{ column }}
    end
{%- endmacro %}


{#
  A date written in one fixed field order, 'MDY' (`03/15/2024`, `3/5/2024`) or 'DMY' (`15-03-2024`),
  `/` or `-` as separator, four-digit year, or else in ISO `YYYY-MM-DD` (unambiguous, so every date
  column accepts it). Apply to `date_text(...)`: the time part removed.
#}
{% macro parse_date(column, order='MDY') -%}
    {{ adapter.dispatch('parse_date', 'retail_elt')(column, order) }}
{%- endmacro %}

{#
  Postgres: a date written with two-digit day and month (`03/15/2024`, `15-03-2024`: nearly every cell)
  is recognised by `translate` and cut with `substr`, where the regex and `split_part(replace(...))` cost
  about twice as much per row; its three numbers are the ones the general rule reads, so the date is the
  same. Every other text takes the general rule.
#}
{% macro postgres__parse_date(column, order='MDY') -%}
    {%- if order == 'YMD' -%}
        {{ default__parse_date(column, order) }}
    {%- else -%}
        {%- set fields = ['substr(' ~ column ~ ', 1, 2)', 'substr(' ~ column ~ ', 4, 2)', 'substr(' ~ column ~ ', 7, 4)'] -%}
        {%- set part = {} -%}
        {%- for letter in order -%}
            {%- do part.update({letter: fields[loop.index0]}) -%}
        {%- endfor -%}
    case
        when translate({{ column }}, '123456789-', '000000000/') = '00/00/0000'
            then {{ make_valid_date(part['Y'], part['M'], part['D']) }}
        else {{ default__parse_date(column, order) }}
    end
    {%- endif -%}
{%- endmacro %}

{% macro default__parse_date(column, order='MDY') -%}
    {%- set part = {} -%}
    {%- for letter in order -%}
        {%- do part.update({letter: "split_part(replace(" ~ column ~ ", '-', '/'), '/', " ~ loop.index ~ ")"}) -%}
    {%- endfor -%}
    {%- set iso = {} -%}
    {%- for letter in 'YMD' -%}
        {%- do iso.update({letter: "split_part(" ~ column ~ ", '-', " ~ loop.index ~ ")"}) -%}
    {%- endfor -%}
    case
        {%- if order != 'YMD' %}
        when {{ matches(column, '^[0-9]{1,2}[/-][0-9]{1,2}[/-][0-9]{4}$') }} then {{ make_valid_date(part['Y'], part['M'], part['D']) }}
        {%- endif %}
        when {{ matches(column, '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$') }} then {{ make_valid_date(iso['Y'], iso['M'], iso['D']) }}
    end
{%- endmacro %}


{#
  The status of a parsed date (docs/cleaning-rules.md): `missing` (blank), `invalid` (no rule reads the
  text), `implausible` (before var `date_floor` or after the load date, the day of the build), `valid`.
#}
{% macro date_status(text_column, date_column) -%}
    case
        when {{ text_column }} is null then 'missing'
        when {{ date_column }} is null then 'invalid'
        when {{ date_column }} < cast('{{ var("date_floor") }}' as date) or {{ date_column }} > current_date
            then 'implausible'
        else 'valid'
    end
{%- endmacro %}


{#
  The birthday formats of the customer file: `M/D/YYYY`, `DD/MM/YYYY` (an `a/b/YYYY` whose first
  number is above 12 is day-first), `DD-MM-YYYY` and `YYYY-MM-DD`. Apply to `date_text(...)`.
  `format_column`: the column already holding `mixed_date_format(column)`, computed once per row in an
  earlier (fenced) step; without it the format is worked out again for every branch.
#}
{% macro parse_mixed_date(column, format_column=none) -%}
    {%- set format = format_column if format_column is not none else mixed_date_format(column) -%}
    case
        when {{ format }} = 'M/D/YYYY' then {{ parse_date(column, 'MDY') }}
        when {{ format }} in ('DD/MM/YYYY', 'DD-MM-YYYY') then {{ parse_date(column, 'DMY') }}
        when {{ format }} = 'YYYY-MM-DD' then {{ parse_date(column, 'YMD') }}
    end
{%- endmacro %}


{# Which of the four birthday formats the text has by its shape (null if none). #}
{% macro mixed_date_format(column) -%}
    case
        when {{ matches(column, '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$') }} then
            case when cast(split_part({{ column }}, '/', 1) as integer) > 12 then 'DD/MM/YYYY' else 'M/D/YYYY' end
        when {{ matches(column, '^[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}$') }} then 'DD-MM-YYYY'
        when {{ matches(column, '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$') }} then 'YYYY-MM-DD'
    end
{%- endmacro %}


{# Whole days from `start_date` to `end_date`. #}
{% macro days_between(start_date, end_date) -%}
    {{ adapter.dispatch('days_between', 'retail_elt')(start_date, end_date) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    ({{ end_date }} - {{ start_date }})
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{# Spark: date minus date is an interval there. #}
{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}


{# Whole years of age on `as_of` for someone born on `birthday`. #}
{% macro age_on(birthday, as_of) -%}
    (extract(year from {{ as_of }}) - extract(year from {{ birthday }})
        - case
            when extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
                < extract(month from {{ birthday }}) * 100 + extract(day from {{ birthday }})
            then 1 else 0
        end)
{%- endmacro %}


{# English month and weekday names. #}
{% macro month_name(date_column) -%}
    {{ adapter.dispatch('month_name', 'retail_elt')(date_column) }}
{%- endmacro %}

{% macro duckdb__month_name(date_column) -%}
    monthname({{ date_column }})
{%- endmacro %}

{% macro postgres__month_name(date_column) -%}
    to_char({{ date_column }}, 'FMMonth')
{%- endmacro %}

{# Spark: `MMMM` is the full name (its `monthname` gives `Mar`). #}
{% macro spark__month_name(date_column) -%}
    date_format({{ date_column }}, 'MMMM')
{%- endmacro %}

{% macro day_name(date_column) -%}
    {{ adapter.dispatch('day_name', 'retail_elt')(date_column) }}
{%- endmacro %}

{% macro duckdb__day_name(date_column) -%}
    dayname({{ date_column }})
{%- endmacro %}

{% macro postgres__day_name(date_column) -%}
    to_char({{ date_column }}, 'FMDay')
{%- endmacro %}

{% macro spark__day_name(date_column) -%}
    date_format({{ date_column }}, 'EEEE')
{%- endmacro %}


{# ISO day of the week: 1 = Monday ... 7 = Sunday. #}
{% macro iso_day_of_week(date_column) -%}
    {{ adapter.dispatch('iso_day_of_week', 'retail_elt')(date_column) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_column) -%}
    extract(isodow from {{ date_column }})
{%- endmacro %}

{% macro spark__iso_day_of_week(date_column) -%}
    extract(dayofweek_iso from {{ date_column }})
{%- endmacro %}


{# A relation of one bigint column `day_offset`: 0, 1, ..., `last` (a day spine's offsets). #}
{% macro day_offsets(last) -%}
    {{ adapter.dispatch('day_offsets', 'retail_elt')(last) }}
{%- endmacro %}

{% macro default__day_offsets(last) -%}
    select generate_series as day_offset from generate_series(0, {{ last }})
{%- endmacro %}

{% macro spark__day_offsets(last) -%}
    select id as day_offset from range(0, {{ last }} + 1)
{%- endmacro %}
