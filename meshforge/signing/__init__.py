"""Key and signature formats used by OpenWrt (usign/signify)."""
