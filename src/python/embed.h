// Python Executors in the `shoal` binary: one embedded interpreter per replica process, started
// the first time a Python `uses` is loaded (a replica of a C++ Executor never starts it).
#ifndef SHOAL_PYTHON_EMBED_H_
#define SHOAL_PYTHON_EMBED_H_

namespace shoal::python {

// Installs the executor loader's Python hook (executor::SetPythonLoader). Call once, early.
void InstallPythonExecutors();

}  // namespace shoal::python

#endif  // SHOAL_PYTHON_EMBED_H_
