with classified as (

    select * from {{ ref('int_sales_classified') }}

),

final as (

    select
        order_number,
        line_item,
        order_date,
        delivery_date,
        customer_key,
        store_key,
        product_key,
        quantity,
        currency_code,
        rate_date,
        exchange_rate,
        source_row,
        load_id
    from classified
    where disposition = 'clean'

)

select * from final
