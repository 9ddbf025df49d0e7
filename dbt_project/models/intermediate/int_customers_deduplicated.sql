with classified as (

    select * from {{ ref('int_customers_classified') }}

),

final as (

    select
        customer_key,
        gender,
        name,
        city,
        state_code,
        state,
        zip_code,
        country,
        continent,
        birthday,
        birthday_format,
        age_reported,
        email,
        email_status,
        was_mojibake,
        source_row,
        load_id
    from classified
    where disposition = 'clean'

)

select * from final
