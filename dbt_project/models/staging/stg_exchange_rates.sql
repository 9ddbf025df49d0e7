{%- set raw_columns = ['date', 'currency', 'exchange'] -%}

with source as (

    select * from {{ source('raw', 'exchange_rates') }}

),

trimmed as (

    select
        _source_row as source_row,
        _load_id as load_id,
        {{ record_json('source', raw_columns) }} as raw_record,
        {%- for column in raw_columns %}
        {{ trimmed_text(column) }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from source

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
