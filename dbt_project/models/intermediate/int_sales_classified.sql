with sales as (

    select * from {{ ref('stg_sales') }}

),

customers as (

    select customer_key from {{ ref('int_customers_deduplicated') }}

),

products as (

    select product_key from {{ ref('int_products_deduplicated') }}

),

stores as (

    select store_key from {{ ref('int_stores_deduplicated') }}

),

exchange_rates as (

    select currency_code, rate_date, rate from {{ ref('int_exchange_rates_deduplicated') }}

),

currencies as (

    select distinct currency_code from exchange_rates

),

-- The latest rate on or before each (currency, order date): rate days and order days on one
-- timeline per currency, rate days first on a tie, carrying the last rate date forward.
order_days as (

    select distinct currency_code, order_date
    -- stg_sales itself, not the `sales` CTE: referenced only once, that CTE is read in line by Postgres
    -- instead of being copied whole into a tuple store first (it materialises a CTE referenced twice).
    from {{ ref('stg_sales') }}
    where currency_code is not null and order_date is not null

),

timeline as (

    select currency_code, rate_date as day, 0 as is_order_day, rate_date from exchange_rates
    union all
    select currency_code, order_date as day, 1 as is_order_day, null as rate_date from order_days

),

carried as (

    select
        currency_code,
        day,
        is_order_day,
        max(rate_date) over (
            partition by currency_code
            order by day, is_order_day
            rows between unbounded preceding and current row
        ) as rate_date
    from timeline

),

order_day_rates as (

    select
        carried.currency_code,
        carried.day as order_date,
        exchange_rates.rate_date,
        exchange_rates.rate
    from carried
    left join exchange_rates
        on carried.currency_code = exchange_rates.currency_code
        and carried.rate_date = exchange_rates.rate_date
    where carried.is_order_day = 1

),

judged as (

    select
        sales.*,
        sales.sales_line_text as natural_key,
        order_day_rates.rate_date,
        order_day_rates.rate as exchange_rate,
        case
            when sales.order_number is null or sales.line_item is null or sales.customer_key is null
                or sales.store_key is null or sales.product_key is null
                then 'invalid_key'
            when sales.order_date_status = 'missing' then 'invalid_order_date'
            when sales.order_date_status = 'invalid' then 'invalid_date'
            when sales.order_date_status = 'implausible' then 'implausible_date'
            when sales.quantity_status in ('missing', 'invalid') then 'invalid_quantity'
            when sales.quantity_status = 'out_of_range' then 'out_of_range'
            when currencies.currency_code is null then 'unknown_currency'
            when customers.customer_key is null then 'orphan_customer'
            when products.product_key is null then 'orphan_product'
            when stores.store_key is null then 'orphan_store'
            when order_day_rates.rate is null then 'missing_exchange_rate'
        end as reject_reason,
        {{ count_non_null(['sales.order_number', 'sales.line_item', 'sales.order_date', 'sales.delivery_date',
                           'sales.customer_key', 'sales.store_key', 'sales.product_key', 'sales.quantity',
                           'sales.currency_code']) }} as non_null_fields
    from sales
    left join currencies on sales.currency_code = currencies.currency_code
    left join customers on sales.customer_key = customers.customer_key
    left join products on sales.product_key = products.product_key
    left join stores on sales.store_key = stores.store_key
    left join order_day_rates
        on sales.currency_code = order_day_rates.currency_code
        and sales.order_date = order_day_rates.order_date

),

classified as (

    {{ classify_records('judged', ['order_number', 'line_item'], 'non_null_fields desc, source_row') }}

),

final as (

    select
        source_row,
        load_id,
        natural_key,
        order_number,
        line_item,
        rate_date,
        exchange_rate,
        non_null_fields,
        raw_record,
        reject_reason,
        copy_number,
        preference_rank,
        disposition
    from classified

)

select * from final
