{%- set raw_columns = ['order_number', 'line_item', 'order_date', 'delivery_date', 'customer_key', 'store_key',
                       'product_key', 'quantity', 'currency_code'] -%}

with source as (

    select * from {{ source('raw', 'sales') }}

),

trimmed as (

    {{ select_trimmed_raw('source', raw_columns) }}

),

final as (

    select
        source_row,
        load_id,
        raw_record,
        coalesce(order_number, '') || '-' || coalesce(line_item, '') as sales_line_text,
        {{ safe_integer('order_number') }} as order_number,
        {{ safe_integer('line_item') }} as line_item,
        order_date as order_date_text,
        {{ parse_date('order_date', 'MDY') }} as order_date,
        delivery_date as delivery_date_text,
        {{ parse_date('delivery_date', 'MDY') }} as delivery_date,
        {{ safe_integer('customer_key') }} as customer_key,
        {{ safe_integer('store_key') }} as store_key,
        {{ safe_integer('product_key') }} as product_key,
        quantity as quantity_text,
        {{ safe_integer('quantity') }} as quantity,
        upper(currency_code) as currency_code
    from trimmed

)

select * from final
