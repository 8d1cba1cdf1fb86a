// The dashboard's static files (webui/assets/), compiled into the binary by
// webui/embed_assets.cmake, so that `weir serve` needs no files and no network at run time.
#ifndef WEIR_WEBUI_ASSETS_H_
#define WEIR_WEBUI_ASSETS_H_

#include <span>
#include <string_view>

namespace weir::webui {

struct Asset {
  std::string_view name;   // the file's name in webui/assets/
  std::string_view bytes;  // its content
};

// Every asset, sorted by name.
std::span<const Asset> Assets();

// The asset named `name`, or null.
const Asset* FindAsset(std::string_view name);

// The Content-Type to serve `name` with, by its extension.
std::string_view ContentTypeOf(std::string_view name);

}  // namespace weir::webui

#endif  // WEIR_WEBUI_ASSETS_H_
