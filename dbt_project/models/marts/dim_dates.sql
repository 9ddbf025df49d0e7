with sales as (

    select order_date, delivery_date from {{ ref('fct_sales') }}

),

exchange_rates as (

    select rate_date from {{ ref('int_exchange_rates_deduplicated') }}

),

-- Every day from the first to the last date that any accepted fact (lines kept from earlier files
-- included) or rate refers to.
bounds as (

    select min(day) as first_day, max(day) as last_day
    from (
        select order_date as day from sales
        union all
        select delivery_date from sales
        union all
        select rate_date from exchange_rates
    ) as days

),

spine as (

    select cast(bounds.first_day + cast(offsets.day_offset as integer) as date) as date_day
    from bounds
    cross join (
        {{ day_offsets(36600) }}
    ) as offsets
    where offsets.day_offset <= {{ days_between('bounds.first_day', 'bounds.last_day') }}

),

final as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as year,
        cast(extract(quarter from date_day) as integer) as quarter,
        cast(extract(month from date_day) as integer) as month,
        {{ month_name('date_day') }} as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast({{ iso_day_of_week('date_day') }} as integer) as day_of_week,
        {{ day_name('date_day') }} as day_name,
        cast(extract(week from date_day) as integer) as iso_week,
        {{ iso_day_of_week('date_day') }} in (6, 7) as is_weekend
    from spine

)

select * from final
