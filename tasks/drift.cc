#include "tasks/drift.h"
