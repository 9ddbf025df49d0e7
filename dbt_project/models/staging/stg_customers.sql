{%- set raw_columns = ['customer_key', 'gender', 'name', 'city', 'state_code', 'state', 'zip_code',
                       'country', 'continent', 'birthday', 'age', 'email'] -%}
{%- set text_columns = ['gender', 'name', 'city', 'state_code', 'state', 'zip_code', 'country', 'continent', 'email'] -%}

with source as (

    select * from {{ source('raw', 'customers') }}

),

trimmed as {{ cte_fence() }} (

    {{ select_trimmed_raw('source', raw_columns) }}

),

repaired as {{ cte_fence() }} (

    select
        *,
        {{ date_text('birthday') }} as birthday_date_text,
        {{ parse_integer('age') }} as age_parsed,
        {%- for column in text_columns %}
        {{ repair_mojibake(column) }} as repaired_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from trimmed

),

ages as (

    select
        *,
        {{ value_status('age', integer_shape('age'), 'age_parsed', var('age_range')[0], var('age_range')[1]) }}
            as age_status
    from repaired

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
        {{ parse_mixed_date('birthday_date_text') }} as birthday,
        case
            when birthday is null then null
            when {{ parse_mixed_date('birthday_date_text') }} is null then 'invalid'
            else {{ mixed_date_format('birthday_date_text') }}
        end as birthday_format,
        age as age_text,
        case when age_status = 'valid' then cast(age_parsed as integer) end as age_reported,
        age_status,
        case when {{ is_valid_email('lower(repaired_email)') }} then lower(repaired_email) end as email,
        case
            when repaired_email is null then 'missing'
            when {{ is_valid_email('lower(repaired_email)') }} then 'valid'
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
