{#
  Row conservation for one source: every raw row ends up in exactly one place.
    raw rows (the staging model tested) = clean rows + exact duplicates + rejected_records rows
  Fails with one row holding all four counts when the equation does not hold.
#}
{% test row_conservation(model, source_name, clean_model, classified_model) %}

with counts as (

    select
        (select count(*) from {{ model }}) as raw_rows,
        (select count(*) from {{ clean_model }}) as clean_rows,
        (select count(*) from {{ classified_model }} where disposition = 'exact_duplicate') as duplicate_rows,
        (select count(*) from {{ ref('rejected_records') }} where source = '{{ source_name }}') as rejected_rows

)

select *
from counts
where raw_rows <> clean_rows + duplicate_rows + rejected_rows

{% endtest %}
