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

-- A birthday is implausible when it lies after the as-of date or gives an age outside var age_range.
birthdays as (

    select
        customers.*,
        as_of.as_of_date,
        case
            when customers.birthday_format is null then 'missing'
            when customers.birthday is null then 'invalid'
            when as_of.as_of_date is null then 'valid'
            when customers.birthday > as_of.as_of_date
                or {{ age_on('customers.birthday', 'as_of.as_of_date') }}
                    not between {{ var('age_range')[0] }} and {{ var('age_range')[1] }}
                then 'implausible'
            else 'valid'
        end as birthday_status
    from customers
    cross join as_of

),

aged as (

    select
        birthdays.*,
        case when birthday_status = 'valid' then birthday end as accepted_birthday,
        coalesce(
            age_reported,
            case when birthday_status = 'valid' then cast({{ age_on('birthday', 'as_of_date') }} as integer) end
        ) as known_age,
        case
            when age_reported is not null then 'reported'
            when birthday_status = 'valid' and as_of_date is not null then 'birthday'
            else 'imputed'
        end as age_source
    from birthdays

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
        aged.accepted_birthday as birthday,
        aged.birthday_format,
        aged.birthday_status,
        coalesce(aged.known_age, mean_age.age) as age,
        aged.age_status,
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
