with customers as (

    select * from {{ ref('int_customers_deduplicated') }}

),

sales as (

    select order_date from {{ ref('int_sales_deduplicated') }}

),

-- Ages are taken on the as-of date: the latest order date of the clean sales.
as_of as (

    select max(order_date) as as_of_date from sales

),

aged as (

    select
        customers.*,
        as_of.as_of_date,
        coalesce(
            customers.age_reported,
            cast({{ age_on('customers.birthday', 'as_of.as_of_date') }} as integer)
        ) as known_age,
        case
            when customers.age_reported is not null then 'reported'
            when customers.birthday is not null and as_of.as_of_date is not null then 'birthday'
            else 'imputed'
        end as age_source
    from customers
    cross join as_of

),

mean_age as (

    select cast(round(avg(cast(known_age as numeric(10, 4))), 0) as integer) as age from aged

),

final as (

    select
        aged.customer_key,
        aged.gender,
        aged.name,
        aged.city,
        aged.state_code,
        aged.state,
        aged.zip_code,
        aged.country,
        aged.continent,
        aged.birthday,
        aged.birthday_format,
        coalesce(aged.known_age, mean_age.age) as age,
        aged.age_source,
        aged.age_source = 'imputed' as age_imputed,
        aged.email,
        aged.email_status,
        aged.was_mojibake,
        aged.source_row,
        aged.load_id
    from aged
    cross join mean_age

)

select * from final
