// Masking of secrets: their values, and the forms a value takes inside other text (base64 at
// each of its three byte alignments, standard and URL-safe; a JSON string escape), replaced by
// "***" wherever weir writes or serves text: task logs, rendered configs, API answers, audits.
//
//   SecretMask mask;
//   mask.Add(password);
//   std::string safe = mask.Apply(text);
//
//   MaskingStream stream(mask);            // for text that arrives in pieces (a task's output)
//   stream.Write(chunk, &out);             // a secret cut in two by a read is still masked
//   stream.Finish(&out);
//
// Thread-safety: a SecretMask is a value; const methods may run concurrently. The process's
// registry (ProcessSecrets) is thread-safe.
#ifndef WEIR_COMMON_SECRET_MASK_H_
#define WEIR_COMMON_SECRET_MASK_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

inline constexpr std::string_view kMaskedText = "***";

class SecretMask {
 public:
  // Values shorter than this are not masked: masking "a" or "123" would blank ordinary text.
  static constexpr std::size_t kMinLength = 4;

  // Masks `value` and its encoded forms from now on. Too short a value is ignored.
  void Add(std::string_view value);
  bool empty() const { return patterns_.empty(); }
  // The length of the longest form masked; a stream holds back one byte less than it.
  std::size_t Longest() const { return patterns_.empty() ? 0 : patterns_.front().size(); }

  // `text` with every masked form replaced by "***", the leftmost first and the longest of
  // those starting at one place.
  std::string Apply(std::string_view text) const;

  // Masks `text` into `out` up to where a form could still continue in text not seen yet (all
  // of it when `final`); returns how many bytes of `text` were used.
  std::size_t ApplyPrefix(std::string_view text, bool final, std::string* out) const;

 private:
  void AddPattern(std::string pattern);
  std::vector<std::string> patterns_;  // distinct, longest first
};

// Masks text given in pieces: what may be the start of a secret is held back until the next
// piece shows whether it is one.
class MaskingStream {
 public:
  explicit MaskingStream(std::shared_ptr<const SecretMask> mask) : mask_(std::move(mask)) {}
  // Appends to `out` the masked text that can no longer change.
  void Write(std::string_view piece, std::string* out);
  // Appends whatever was held back; the stream may then start again.
  void Finish(std::string* out);

 private:
  std::shared_ptr<const SecretMask> mask_;
  std::string pending_;
};

// The secrets this process has read (from the config file and the DAGs), for the text it
// serves or records that did not come with its own list: API answers, audit events.
class ProcessSecrets {
 public:
  static ProcessSecrets& Instance();
  void Add(std::string_view value);
  // A snapshot: later Adds do not change it.
  std::shared_ptr<const SecretMask> Mask() const;
  std::string Apply(std::string_view text) const { return Mask()->Apply(text); }

 private:
  ProcessSecrets();
  ~ProcessSecrets();
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace weir

#endif  // WEIR_COMMON_SECRET_MASK_H_
