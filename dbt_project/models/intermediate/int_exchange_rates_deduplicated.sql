with staged as (

    select * from {{ ref('stg_exchange_rates') }}

),

classified as (

    select * from {{ ref('int_exchange_rates_classified') }}

),

final as (

    select
        staged.rate_date,
        staged.currency_code,
        staged.rate,
        staged.source_row,
        staged.load_id
    from staged
    inner join classified on staged.source_row = classified.source_row
    where classified.disposition = 'clean'

)

select * from final
