// Swizzled (wrapped): adds the navbar item type `custom-authUser`.
import ComponentTypes from "@theme-original/NavbarItem/ComponentTypes";
import AuthNavbarItem from "@site/src/components/AuthNavbarItem";

export default {
  ...ComponentTypes,
  "custom-authUser": AuthNavbarItem,
};
