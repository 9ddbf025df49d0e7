{{ clean_records(
    'stg_products',
    'int_products_classified',
    columns=[
        'product_key',
        'product_name',
        'brand',
        'color',
        'unit_cost_usd',
        'unit_price_usd',
        'subcategory_key',
        'subcategory',
        'category_key',
        'category',
    ],
) }}
