with classified as (

    select * from {{ ref('int_stores_classified') }}

),

final as (

    select
        store_key,
        country,
        state,
        square_meters,
        open_date,
        source_row,
        load_id
    from classified
    where disposition = 'clean'

)

select * from final
