with staged as (

    select * from {{ ref('stg_customers') }}

),

classified as (

    select * from {{ ref('int_customers_classified') }}

),

final as (

    select
        staged.customer_key,
        staged.gender,
        staged.name,
        staged.city,
        staged.state_code,
        staged.state,
        staged.zip_code,
        staged.country,
        staged.continent,
        staged.birthday,
        staged.birthday_format,
        staged.age_reported,
        staged.age_status,
        staged.email,
        staged.email_status,
        staged.was_mojibake,
        staged.source_row,
        staged.load_id
    from staged
    inner join classified on staged.source_row = classified.source_row
    where classified.disposition = 'clean'

)

select * from final
