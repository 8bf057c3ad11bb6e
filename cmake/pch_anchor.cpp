// Gives the precompiled-header target a translation unit to build.
