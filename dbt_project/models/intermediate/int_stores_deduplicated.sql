{{ clean_records(
    'stg_stores',
    'int_stores_classified',
    columns=[
        'store_key',
        'country',
        'state',
        'square_meters',
        'square_meters_status',
        'open_date',
        'open_date_status',
    ],
) }}
