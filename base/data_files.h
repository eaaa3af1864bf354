// Where the programs find the data files they ship with (the bank holiday
// calendar): installed, beside the binary as "<bin>/../share/evenhand/NAME"
// (/usr/share/evenhand from the Debian package, or wherever the package was
// unpacked); else, for a binary run from its build folder, the checkout's
// copy the build names.
#ifndef EVENHAND_BASE_DATA_FILES_H_
#define EVENHAND_BASE_DATA_FILES_H_

#include <string>

namespace evenhand {

// The installed copy of `name` if there is one, else `build_path`.
std::string FindDataFile(const std::string& name, const std::string& build_path);

}  // namespace evenhand

#endif  // EVENHAND_BASE_DATA_FILES_H_
