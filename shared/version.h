#ifndef GW_VERSION_H
#define GW_VERSION_H
#define GW_VERSION "0.1.0"
#define GW_PRODUCT "tollgate/" GW_VERSION
#endif
