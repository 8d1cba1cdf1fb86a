#include "tasks/csv.h"
