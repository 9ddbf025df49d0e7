{{ clean_records(
    'stg_exchange_rates',
    'int_exchange_rates_classified',
    columns=[
        'rate_date',
        'currency_code',
        'rate',
    ],
) }}
