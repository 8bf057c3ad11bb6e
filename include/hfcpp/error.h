// Exceptions thrown by hfcpp. Every message names the file, the key and what was expected
// against what was found, so a user can act on it without a debugger.
#pragma once

#include <stdexcept>
#include <string>

namespace hfcpp {

// Base of every hfcpp exception: catch this to handle all of them.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file's content is corrupt, truncated, hostile or not the format it claims to be.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A file or folder that should exist does not, or cannot be opened / written (Python: OSError).
class FileError : public Error {
 public:
  using Error::Error;
};

// A tensor, config field or registry entry that was asked for does not exist.
class KeyError : public Error {
 public:
  using Error::Error;
};

// An option or argument has a value that cannot be used (Python: ValueError).
class ValueError : public Error {
 public:
  using Error::Error;
};

// The request is valid but this build or this libtorch cannot do it (e.g. F8 compute on 1.13).
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

}  // namespace hfcpp
