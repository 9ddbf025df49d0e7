{%- set raw_columns = ['date', 'currency', 'exchange'] -%}

with source as (

    select * from {{ source('raw', 'exchange_rates') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        date as rate_date_text,
        {{ parse_date('date', 'MDY') }} as rate_date,
        upper(currency) as currency_code,
        exchange as rate_text,
        {{ safe_numeric('exchange', 18, 6) }} as rate
    from trimmed

)

select * from final
