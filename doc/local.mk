# Manual pages.
dist_man_MANS += %D%/libepyrpc.3
