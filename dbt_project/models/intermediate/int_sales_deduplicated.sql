with staged as (

    select * from {{ ref('stg_sales') }}

),

classified as (

    select * from {{ ref('int_sales_classified') }}

),

final as (

    select
        staged.order_number,
        staged.line_item,
        staged.order_date,
        staged.delivery_date,
        staged.delivery_date_status,
        staged.customer_key,
        staged.store_key,
        staged.product_key,
        staged.quantity,
        staged.currency_code,
        classified.rate_date,
        classified.exchange_rate,
        staged.source_row,
        staged.load_id
    from staged
    inner join classified on staged.source_row = classified.source_row
    where classified.disposition = 'clean'

)

select * from final
