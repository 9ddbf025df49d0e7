with staged as (

    select * from {{ ref('stg_stores') }}

),

classified as (

    select * from {{ ref('int_stores_classified') }}

),

final as (

    select
        staged.store_key,
        staged.country,
        staged.state,
        staged.square_meters,
        staged.square_meters_status,
        staged.open_date,
        staged.open_date_status,
        staged.source_row,
        staged.load_id
    from staged
    inner join classified on staged.source_row = classified.source_row
    where classified.disposition = 'clean'

)

select * from final
