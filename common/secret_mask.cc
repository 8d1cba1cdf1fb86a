#include "common/secret_mask.h"

#include <algorithm>
#include <mutex>
#include <set>

namespace weir {
namespace {

// The base64 characters fully decided by `value`'s bytes when it starts `shift` bytes (0, 1 or
// 2) after a 3-byte boundary of the encoded text: what every encoding of a text that contains
// `value` contains, whatever surrounds it.
std::string Base64Core(std::string_view value, int shift, bool url_safe) {
  static constexpr char kStandard[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char kUrlSafe[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* alphabet = url_safe ? kUrlSafe : kStandard;
  std::string bytes(static_cast<std::size_t>(shift), '\0');
  bytes.append(value);
  std::string encoded;
  std::uint32_t bits = 0;
  int held = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    held += 8;
    while (held >= 6) {
      held -= 6;
      encoded.push_back(alphabet[(bits >> held) & 0x3f]);
    }
  }
  // Character i holds bits [6i, 6i + 6); the value's bits are [8 shift, 8 (shift + size)).
  std::size_t first = (8 * static_cast<std::size_t>(shift) + 5) / 6;
  std::size_t end = 8 * (static_cast<std::size_t>(shift) + value.size()) / 6;
  return end > first ? encoded.substr(first, end - first) : std::string();
}

// `value` as it appears inside a JSON string.
std::string JsonEscaped(std::string_view value) {
  std::string out;
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

void SecretMask::AddPattern(std::string pattern) {
  auto at = std::lower_bound(patterns_.begin(), patterns_.end(), pattern,
                             [](const std::string& a, const std::string& b) {
                               return a.size() != b.size() ? a.size() > b.size() : a < b;
                             });
  if (at == patterns_.end() || *at != pattern) patterns_.insert(at, std::move(pattern));
}

void SecretMask::Add(std::string_view value) {
  if (value.size() < kMinLength) return;
  AddPattern(std::string(value));
  if (std::string escaped = JsonEscaped(value); escaped != value) AddPattern(std::move(escaped));
  // A shorter core would turn up by chance in ordinary text.
  constexpr std::size_t kMinCore = 6;
  for (int shift = 0; shift < 3; ++shift) {
    for (bool url_safe : {false, true}) {
      if (std::string core = Base64Core(value, shift, url_safe); core.size() >= kMinCore) {
        AddPattern(std::move(core));
      }
    }
  }
  // Each line of a multi-line value (a PEM key) may be printed on its own.
  constexpr std::size_t kMinLine = 8;
  if (value.find('\n') != std::string_view::npos) {
    std::size_t start = 0;
    while (start < value.size()) {
      std::size_t end = std::min(value.find('\n', start), value.size());
      std::string_view line = value.substr(start, end - start);
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.size() >= kMinLine) AddPattern(std::string(line));
      start = end + 1;
    }
  }
}

std::size_t SecretMask::ApplyPrefix(std::string_view text, bool final, std::string* out) const {
  if (patterns_.empty()) {
    out->append(text);
    return text.size();
  }
  // Matches may be decided only where every pattern fits in the text seen: a match that starts
  // before `limit` cannot be lengthened by text still to come.
  const std::size_t hold = final ? 0 : std::min(text.size(), Longest() - 1);
  const std::size_t limit = text.size() - hold;
  // The next place each pattern occurs at or after `pos`, found again only once passed, so the
  // text is scanned about once per pattern however many matches there are.
  std::vector<std::size_t> next(patterns_.size(), 0);
  for (std::size_t i = 0; i < patterns_.size(); ++i) next[i] = text.find(patterns_[i]);
  std::size_t pos = 0;
  while (true) {
    std::size_t best = std::string_view::npos;
    std::size_t best_size = 0;
    for (std::size_t i = 0; i < patterns_.size(); ++i) {
      if (next[i] != std::string_view::npos && next[i] < pos)
        next[i] = text.find(patterns_[i], pos);
      // Patterns are longest first: at one place, the first found is the longest.
      if (next[i] < best) {
        best = next[i];
        best_size = patterns_[i].size();
      }
    }
    if (best == std::string_view::npos || best >= limit) break;
    out->append(text.substr(pos, best - pos));
    out->append(kMaskedText);
    pos = best + best_size;
  }
  std::size_t used = std::max(pos, limit);
  out->append(text.substr(pos, used - pos));
  return used;
}

std::string SecretMask::Apply(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  ApplyPrefix(text, /*final=*/true, &out);
  return out;
}

void MaskingStream::Write(std::string_view piece, std::string* out) {
  if (mask_ == nullptr || mask_->empty()) {
    out->append(piece);
    return;
  }
  if (pending_.empty()) {
    std::size_t used = mask_->ApplyPrefix(piece, /*final=*/false, out);
    pending_.assign(piece.substr(used));
    return;
  }
  pending_.append(piece);
  std::size_t used = mask_->ApplyPrefix(pending_, /*final=*/false, out);
  pending_.erase(0, used);
}

void MaskingStream::Finish(std::string* out) {
  if (mask_ != nullptr) mask_->ApplyPrefix(pending_, /*final=*/true, out);
  pending_.clear();
}

struct ProcessSecrets::State {
  mutable std::mutex mu;
  std::shared_ptr<const SecretMask> mask = std::make_shared<SecretMask>();
  std::set<std::string, std::less<>> added;  // values already in `mask`
};

ProcessSecrets::ProcessSecrets() : state_(std::make_unique<State>()) {}
ProcessSecrets::~ProcessSecrets() = default;

ProcessSecrets& ProcessSecrets::Instance() {
  static ProcessSecrets* instance = new ProcessSecrets();  // never destroyed: used at exit
  return *instance;
}

void ProcessSecrets::Add(std::string_view value) {
  if (value.size() < SecretMask::kMinLength) return;
  std::lock_guard lock(state_->mu);
  if (!state_->added.emplace(value).second) return;
  auto next = std::make_shared<SecretMask>(*state_->mask);
  next->Add(value);
  state_->mask = std::move(next);
}

std::shared_ptr<const SecretMask> ProcessSecrets::Mask() const {
  std::lock_guard lock(state_->mu);
  return state_->mask;
}

}  // namespace weir
