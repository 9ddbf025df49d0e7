with classified as (

    select * from {{ ref('int_exchange_rates_classified') }}

),

final as (

    select
        rate_date,
        currency_code,
        rate,
        source_row,
        load_id
    from classified
    where disposition = 'clean'

)

select * from final
