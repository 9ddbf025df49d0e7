{{ clean_records(
    'stg_sales',
    'int_sales_classified',
    columns=[
        'order_number',
        'line_item',
        'order_date',
        'delivery_date',
        'delivery_date_status',
        'customer_key',
        'store_key',
        'product_key',
        'quantity',
        'currency_code',
    ],
    classified_columns=[
        'rate_date',
        'exchange_rate',
    ],
) }}
