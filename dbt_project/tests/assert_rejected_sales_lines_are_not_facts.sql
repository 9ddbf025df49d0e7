-- A sales line the latest Sales file rejects (orphan, bad quantity, unknown currency, ...) appears in
-- rejected_records and nowhere else: not in fct_sales, even after incremental builds.
-- (Superseded duplicates share their key with the clean line that won, so they are left out.)

with rejected as (

    select source_row
    from {{ ref('rejected_records') }}
    where source = 'sales' and reason <> 'superseded_duplicate'

),

rejected_lines as (

    select classified.order_number, classified.line_item, classified.disposition
    from {{ ref('int_sales_classified') }} as classified
    inner join rejected on classified.source_row = rejected.source_row
    where classified.order_number is not null and classified.line_item is not null

)

select rejected_lines.*
from rejected_lines
inner join {{ ref('fct_sales') }} as facts
    on facts.order_number = rejected_lines.order_number
    and facts.line_item = rejected_lines.line_item
