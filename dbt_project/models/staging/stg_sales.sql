{%- set raw_columns = ['order_number', 'line_item', 'order_date', 'delivery_date', 'customer_key', 'store_key',
                       'product_key', 'quantity', 'currency_code'] -%}

with source as (

    select * from {{ source('raw', 'sales') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}
    {{ row_fence() }}

),

-- Each value parsed once (Postgres evaluates a repeated expression again), time suffixes dropped first.
date_parts as (

    select
        *,
        {{ date_text('order_date') }} as order_date_part,
        {{ date_text('delivery_date') }} as delivery_date_part
    from trimmed
    {{ row_fence() }}

),

parsed as (

    select
        *,
        {{ parse_date('order_date_part', 'MDY') }} as order_date_parsed,
        {{ parse_date('delivery_date_part', 'MDY') }} as delivery_date_parsed,
        {{ parse_integer('quantity') }} as quantity_parsed
    from date_parts
    {{ row_fence() }}

),

statused as (

    select
        *,
        {{ date_status('order_date', 'order_date_parsed') }} as order_date_status,
        {{ date_status('delivery_date', 'delivery_date_parsed') }} as delivery_date_read,
        {{ value_status('quantity', integer_shape('quantity'), 'quantity_parsed', 1, var('quantity_max'), 'invalid') }}
            as quantity_status
    from parsed

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        coalesce(order_number, '') || '-' || coalesce(line_item, '') as sales_line_text,
        {{ parse_integer('order_number') }} as order_number,
        {{ parse_integer('line_item') }} as line_item,
        order_date as order_date_text,
        case when order_date_status = 'valid' then order_date_parsed end as order_date,
        order_date_status,
        delivery_date as delivery_date_text,
        case
            when delivery_date_read = 'valid' and not (delivery_date_parsed < order_date_parsed)
            then delivery_date_parsed
        end as delivery_date,
        case
            when delivery_date_read = 'valid' and delivery_date_parsed < order_date_parsed then 'implausible'
            else delivery_date_read
        end as delivery_date_status,
        {{ parse_integer('customer_key') }} as customer_key,
        {{ parse_integer('store_key') }} as store_key,
        {{ parse_integer('product_key') }} as product_key,
        quantity as quantity_text,
        case when quantity_status = 'valid' then quantity_parsed end as quantity,
        quantity_status,
        upper(currency_code) as currency_code
    from statused

)

select * from final
