// Small string helpers shared by the loader, the CLI and the store.
#ifndef WEIR_COMMON_STRINGS_H_
#define WEIR_COMMON_STRINGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

// `s` without the spaces and tabs at either end (HTTP's optional whitespace, list entries).
std::string_view Trim(std::string_view s);

// Levenshtein edit distance, for did-you-mean hints.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a plausible typo, else nullopt.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

// Quotes `s` as one word for /bin/sh: 'it'\''s'.
std::string ShellQuote(std::string_view s);

// Offset (0-based) of the first byte that is not part of valid UTF-8, or nullopt.
std::optional<std::size_t> FindInvalidUtf8(std::string_view s);

// `text` as a whole number in [min, max] (decimal digits, an optional leading '-', nothing
// else), or nullopt.
std::optional<std::int64_t> ParseWholeNumber(std::string_view text, std::int64_t min,
                                             std::int64_t max);

// Escapes control characters and invalid UTF-8 so a value fits on one line of an error; the
// result is valid UTF-8 and at most `max_len` bytes plus one character and "...".
std::string Printable(std::string_view s, std::size_t max_len = 80);

}  // namespace weir

#endif  // WEIR_COMMON_STRINGS_H_
