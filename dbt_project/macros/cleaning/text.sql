{#
  Text cleaning shared by every staging model: trim with empty as null, regex match, repair mojibake.
  Adapter differences live only in the dispatched macros below.
#}

{# Text without leading/trailing blanks (space, tab, CR, LF); '' becomes null. #}
{% macro trimmed_text(column) -%}
    nullif({{ adapter.dispatch('trim_blanks', 'retail_elt')(column) }}, '')
{%- endmacro %}

{#
  Null for text equal, ignoring case, to one of the var `null_spellings` (`NULL`, `N/A`, `-`, ...);
  otherwise the text itself. Apply to trimmed text.
#}
{% macro null_if_spelled_null(column) -%}
    {%- set spellings = [] -%}
    {%- for spelling in var('null_spellings') -%}
        {%- if spelling | upper not in spellings -%}{%- do spellings.append(spelling | upper) -%}{%- endif -%}
    {%- endfor -%}
    case
        when {{ adapter.dispatch('short_enough_for', 'retail_elt')(column, spellings | map('length') | max) }}
            and upper({{ column }}) in ({% for s in spellings %}'{{ s | replace("'", "''") }}'{{ ', ' if not loop.last }}{% endfor %})
        then null
        else {{ column }}
    end
{%- endmacro %}

{#
  A cheap pre-test before `upper(...) in (...)`: Postgres' upper() copies the text through the locale for
  every row, while almost no cell is as short as a null spelling. upper() maps character by character, so
  a text longer (in characters) than every spelling can never equal one: the result is the same.
#}
{% macro default__short_enough_for(column, max_length) -%}
    true
{%- endmacro %}

{% macro postgres__short_enough_for(column, max_length) -%}
    length({{ column }}) <= {{ max_length }}
{%- endmacro %}

{% macro default__trim_blanks(column) -%}
    trim({{ column }})
{%- endmacro %}

{% macro duckdb__trim_blanks(column) -%}
    trim({{ column }}, ' ' || chr(9) || chr(10) || chr(13))
{%- endmacro %}

{% macro postgres__trim_blanks(column) -%}
    btrim({{ column }}, ' ' || chr(9) || chr(10) || chr(13))
{%- endmacro %}

{# Spark: the SQL-standard form (its 2-argument trim functions take the characters first). #}
{% macro spark__trim_blanks(column) -%}
    trim(both concat(' ', chr(9), chr(10), chr(13)) from {{ column }})
{%- endmacro %}


{# True when the text matches the regular expression (a search: anchor the pattern for a full match). #}
{% macro matches(column, pattern) -%}
    {{ adapter.dispatch('matches', 'retail_elt')(column, pattern) }}
{%- endmacro %}

{% macro duckdb__matches(column, pattern) -%}
    regexp_matches({{ column }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__matches(column, pattern) -%}
    ({{ column }} ~ '{{ pattern }}')
{%- endmacro %}

{# Spark: Java regular expressions (`rlike` is a search, as above); see java_regex_literal. #}
{% macro spark__matches(column, pattern) -%}
    ({{ column }} rlike {{ java_regex_literal(pattern) }})
{%- endmacro %}

{#
  A pattern written for RE2 (DuckDB), as a Spark SQL string literal holding the Java regex that matches the
  same texts: `$` outside a bracket expression becomes `\z`, because Java's `$` also matches before a
  final line terminator (`12\n`, but also U+0085, U+2028, U+2029); `(?d)` makes `.` match anything but
  `\n`, as in RE2. Backslashes and quotes are escaped for the literal (Spark reads `\\` as `\`). POSIX
  classes (`[:space:]`) mean something else to Java: a pattern that needs one has a Spark form of its own.
#}
{% macro java_regex_literal(pattern) -%}
    {%- set state = namespace(text='', in_class=false, escaped=false) -%}
    {%- for character in pattern -%}
        {%- if state.escaped -%}
            {%- set state.text = state.text ~ character -%}
            {%- set state.escaped = false -%}
        {%- elif character == '\\' -%}
            {%- set state.text = state.text ~ character -%}
            {%- set state.escaped = true -%}
        {%- elif state.in_class -%}
            {%- set state.text = state.text ~ character -%}
            {%- if character == ']' and not state.text.endswith('[]') and not state.text.endswith('[^]') -%}
                {%- set state.in_class = false -%}
            {%- endif -%}
        {%- elif character == '[' -%}
            {%- set state.text = state.text ~ character -%}
            {%- set state.in_class = true -%}
        {%- elif character == '$' -%}
            {%- set state.text = state.text ~ '\\z' -%}
        {%- else -%}
            {%- set state.text = state.text ~ character -%}
        {%- endif -%}
    {%- endfor -%}
    '(?d){{ state.text | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}


{#
  Mojibake: UTF-8 bytes that were decoded as Latin-1 or Windows-1252 (`MÃ¶ller` for `Möller`,
  `â€™` for `’`). The 27 Windows-1252 characters are mapped back to U+0080..U+009F first; a value is
  re-decoded only if every code point is a byte and the bytes form well-formed UTF-8 with at least
  one multi-byte sequence. Anything else (clean text, `Łódź`, `O’Brien`) is returned unchanged.
#}
{# The value as Latin-1 would see its bytes: Windows-1252 characters back to U+0080..U+009F. #}
{% macro latin1_view(column) -%}
    {%- set cp1252_characters = '€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ' -%}
    {%- set cp1252_bytes = [128, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 142,
                            145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 158, 159] -%}
    translate({{ column }}, '{{ cp1252_characters }}', {% for b in cp1252_bytes %}chr({{ b }}){{ ' || ' if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro repair_mojibake(column) -%}
    {{ adapter.dispatch('repair_mojibake', 'retail_elt')(column) }}
{%- endmacro %}

{% macro duckdb__repair_mojibake(column) -%}
    {%- set bytes = latin1_view(column) -%}
    case
        when regexp_matches({{ column }}, '[\x{00C2}-\x{00F4}][\x{0080}-\x{00BF}\x{0152}\x{0153}\x{0160}\x{0161}\x{0178}\x{017D}\x{017E}\x{0192}\x{02C6}\x{02DC}\x{2013}-\x{2122}]')
            and regexp_full_match({{ bytes }}, '([\x{0001}-\x{007F}]|[\x{00C2}-\x{00DF}][\x{0080}-\x{00BF}]|[\x{00E0}-\x{00EF}][\x{0080}-\x{00BF}]{2}|[\x{00F0}-\x{00F4}][\x{0080}-\x{00BF}]{3})*')
        then coalesce(
            try(decode(unhex(array_to_string(
                list_transform(string_split({{ bytes }}, ''), lambda c: lpad(hex(unicode(c)), 2, '0')), ''
            )))),
            {{ column }}
        )
        else {{ column }}
    end
{%- endmacro %}

{% macro postgres__repair_mojibake(column) -%}
    {%- set bytes = latin1_view(column) -%}
    case
        -- Mojibake has characters above U+007F, i.e. more bytes than characters: plain ASCII text (nearly
        -- every cell) skips both regexes, which could not match it anyway.
        when octet_length({{ column }}) > length({{ column }})
            and {{ column }} ~ '[\u00C2-\u00F4][\u0080-\u00BF\u0152\u0153\u0160\u0161\u0178\u017D\u017E\u0192\u02C6\u02DC\u2013-\u2122]'
            and {{ bytes }} ~ '^([\u0001-\u007F]|[\u00C2-\u00DF][\u0080-\u00BF]|[\u00E0-\u00EF][\u0080-\u00BF]{2}|[\u00F0-\u00F4][\u0080-\u00BF]{3})*$'
        -- convert_from's encoding argument is of type name, whose "C" collation would otherwise
        -- leak into the result (and make lower() ASCII-only): keep the database's collation.
        then convert_from(convert_to({{ bytes }}, 'LATIN1'), 'UTF8') collate "default"
        else {{ column }}
    end
{%- endmacro %}

{#
  Spark: the same two guards, in Java regex. The second is strict where RE2's is loose: it admits only
  well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), because Spark's decode
  raises an error on malformed bytes where DuckDB's `try(decode(...))` falls back to the value itself;
  the value is then returned unchanged on both. `*+` (possessive): Java's backtracking regex would
  otherwise recurse once per character and overflow its stack on a long cell; the branches begin with
  different bytes, so there is never anything to backtrack to.
#}
{% macro spark__repair_mojibake(column) -%}
    {%- set bytes = latin1_view(column) -%}
    {%- set continuation = '[\\x{0080}-\\x{00BF}]' -%}
    case
        when {{ matches(column, '[\\x{00C2}-\\x{00F4}][\\x{0080}-\\x{00BF}\\x{0152}\\x{0153}\\x{0160}\\x{0161}\\x{0178}\\x{017D}\\x{017E}\\x{0192}\\x{02C6}\\x{02DC}\\x{2013}-\\x{2122}]') }}
            and {{ matches(bytes, '^(?:[\\x{0001}-\\x{007F}]'
                ~ '|[\\x{00C2}-\\x{00DF}]' ~ continuation
                ~ '|\\x{00E0}[\\x{00A0}-\\x{00BF}]' ~ continuation
                ~ '|[\\x{00E1}-\\x{00EC}\\x{00EE}\\x{00EF}]' ~ continuation ~ '{2}'
                ~ '|\\x{00ED}[\\x{0080}-\\x{009F}]' ~ continuation
                ~ '|\\x{00F0}[\\x{0090}-\\x{00BF}]' ~ continuation ~ '{2}'
                ~ '|[\\x{00F1}-\\x{00F3}]' ~ continuation ~ '{3}'
                ~ '|\\x{00F4}[\\x{0080}-\\x{008F}]' ~ continuation ~ '{2}'
                ~ ')*+$') }}
        then decode(encode({{ bytes }}, 'ISO-8859-1'), 'UTF-8')
        else {{ column }}
    end
{%- endmacro %}
