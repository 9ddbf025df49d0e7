{%- set raw_columns = ['date', 'currency', 'exchange'] -%}

with source as (

    select * from {{ source('raw', 'exchange_rates') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}
    {{ row_fence() }}

),

date_parts as (

    select *, {{ date_text('date') }} as date_part from trimmed
    {{ row_fence() }}

),

parsed as (

    select
        *,
        {{ parse_date('date_part', 'MDY') }} as rate_date_parsed,
        {{ parse_decimal('exchange') }} as rate_parsed
    from date_parts
    {{ row_fence() }}

),

statused as (

    select
        *,
        {{ date_status('date', 'rate_date_parsed') }} as rate_date_status,
        {{ value_status('exchange', decimal_shape('exchange'), 'rate_parsed', 0.000001, var('exchange_rate_max'), 'invalid') }}
            as rate_status
    from parsed

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        date as rate_date_text,
        case when rate_date_status = 'valid' then rate_date_parsed end as rate_date,
        rate_date_status,
        upper(currency) as currency_code,
        exchange as rate_text,
        case when rate_status = 'valid' then rate_parsed end as rate,
        rate_status
    from statused

)

select * from final
