{%- set raw_columns = ['customer_key', 'gender', 'name', 'city', 'state_code', 'state', 'zip_code',
                       'country', 'continent', 'birthday', 'age', 'email'] -%}
{%- set text_columns = ['gender', 'name', 'city', 'state_code', 'state', 'zip_code', 'country', 'continent', 'email'] -%}

with source as (

    select * from {{ source('raw', 'customers') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}
    {{ row_fence() }}

),

repaired as (

    select
        *,
        {{ date_text('birthday') }} as birthday_date_text,
        {{ parse_integer('age') }} as age_parsed,
        {%- for column in text_columns %}
        {{ repair_mojibake(column) }} as repaired_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from trimmed
    {{ row_fence() }}

),

-- Each step's values computed once per row (row_fence): the birthday's format, then the date it gives.
birthday_formats as (

    select
        *,
        {{ mixed_date_format('birthday_date_text') }} as birthday_format_read,
        {{ is_valid_email('lower(repaired_email)') }} as email_is_valid
    from repaired
    {{ row_fence() }}

),

birthdays as (

    select
        *,
        {{ parse_mixed_date('birthday_date_text', 'birthday_format_read') }} as birthday_parsed
    from birthday_formats
    {{ row_fence() }}

),

ages as (

    select
        *,
        {{ value_status('age', integer_shape('age'), 'age_parsed', var('age_range')[0], var('age_range')[1]) }}
            as age_status
    from birthdays

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        customer_key as customer_key_text,
        {{ parse_integer('customer_key') }} as customer_key,
        {%- for column in text_columns if column != 'email' %}
        repaired_{{ column }} as {{ column }},
        {%- endfor %}
        birthday as birthday_text,
        birthday_parsed as birthday,
        case
            when birthday is null then null
            when birthday_parsed is null then 'invalid'
            else birthday_format_read
        end as birthday_format,
        age as age_text,
        case when age_status = 'valid' then cast(age_parsed as integer) end as age_reported,
        age_status,
        case when email_is_valid then lower(repaired_email) end as email,
        case
            when repaired_email is null then 'missing'
            when email_is_valid then 'valid'
            else 'invalid'
        end as email_status,
        (
            {%- for column in text_columns %}
            coalesce(repaired_{{ column }} <> {{ column }}, false){{ ' or' if not loop.last }}
            {%- endfor %}
        ) as was_mojibake
    from ages

)

select * from final
