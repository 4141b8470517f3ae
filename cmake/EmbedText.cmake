# cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P EmbedText.cmake
# writes a C file defining `const unsigned char SYMBOL[]` (the input's
# bytes and a terminating 0) and `const size_t SYMBOL_len` (the bytes
# without it): a text file compiled into the binary, so that what chatd
# serves is the text it was built with, without reading a file at run time.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR bytes "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" hex "${hex}")
file(WRITE ${OUTPUT}.tmp
  "/* Generated from ${INPUT} by cmake/EmbedText.cmake: do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const unsigned char ${SYMBOL}[];\nextern const size_t ${SYMBOL}_len;\n"
  "const unsigned char ${SYMBOL}[] = {\n${hex}0x00};\n"
  "const size_t ${SYMBOL}_len = ${bytes};\n")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
